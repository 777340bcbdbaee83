"""Use cases. Collaborators are passed in; each service commits explicitly."""
