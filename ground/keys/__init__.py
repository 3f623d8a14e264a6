"""The ground's keys (issue 17): mission key material, the session a ground process sends through,
and over-the-air rekeying; `gridfree keys` is cli.py."""
