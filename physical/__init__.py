"""Physical substrates (device models) as reservoirs. Populated by later work."""
