"""Local stand-ins for the services Shipbell talks to (a CI, GitHub), run on 127.0.0.1."""
