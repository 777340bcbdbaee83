"""The Azure Functions app (Python v2 model): signing, petition lifecycle, close sweep, persister.

Deployed from the staged folder `make functions-package` builds, which holds this file, the role
modules in petition_functions/ and the shared packages app/ and config/.
"""
import azure.durable_functions as df

from petition_functions import activities, http, orchestrators, timers

app = df.DFApp()
for role in (http, orchestrators, activities, timers):
    app.register_functions(role.bp)
