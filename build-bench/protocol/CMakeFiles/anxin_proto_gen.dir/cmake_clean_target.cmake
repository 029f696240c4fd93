file(REMOVE_RECURSE
  "libanxin_proto_gen.a"
)
