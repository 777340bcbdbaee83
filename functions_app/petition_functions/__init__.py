"""Role modules of the Functions app: http, orchestrators, activities, timers (one blueprint each)
and clients (built once per worker)."""
