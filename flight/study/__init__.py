"""The offline scheduling study (`gridfree sched-compare`): the compute scheduling policies flown
in one simulator of the node's own power, thermal and job model, side by side with the
clairvoyant bound. Nothing on board imports it; it imports the onboard planner it judges."""
