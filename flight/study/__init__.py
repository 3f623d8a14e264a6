"""The offline scheduling study (`gridfree sched-compare`): the payload power policies the node
flies (flight/compute/policies.py), flown side by side in a simulated world with forecast errors
and held to the clairvoyant bound. Nothing on board imports it; it imports the policies it judges."""
