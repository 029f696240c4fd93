# Empty compiler generated dependencies file for dispatcher.
# This may be replaced when dependencies are built.
