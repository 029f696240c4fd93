file(REMOVE_RECURSE
  "libanxin_sim.a"
)
