# Empty compiler generated dependencies file for anxin_protocol.
# This may be replaced when dependencies are built.
