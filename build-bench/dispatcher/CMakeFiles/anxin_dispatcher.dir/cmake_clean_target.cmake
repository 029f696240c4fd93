file(REMOVE_RECURSE
  "libanxin_dispatcher.a"
)
