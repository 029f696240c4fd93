file(REMOVE_RECURSE
  "libanxin_protocol.a"
)
