"""The ``trainform`` command line. One module per verb group; rendering lives here."""
