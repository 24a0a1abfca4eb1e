"""The CRM writer: the only package that talks to Salesforce (through simple-salesforce).

Importing the package registers its tables; the writer itself lives in `storage.crm.writer`.
Kept import-light on purpose: `storage.db` imports this package, and the writer imports the database layer.
"""

from storage.crm import models  # noqa: F401  (registers the CRM tables)
