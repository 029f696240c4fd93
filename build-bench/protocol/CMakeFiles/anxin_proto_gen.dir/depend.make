# Empty dependencies file for anxin_proto_gen.
# This may be replaced when dependencies are built.
