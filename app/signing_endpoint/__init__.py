"""The signing endpoint: POST /api/petitions/<id>/signatures with a signing token (contract.py),
served beside Flask by endpoint.py and by the Functions app's signing trigger."""
