"""Buy or rent: the server catalog, the break-even arithmetic and its chart.

``servers`` loads ``pricing_data/servers.csv`` (server builds people buy, with price and
power); ``breakeven`` compares owning one against renting the same work on AWS; ``chart``
draws the comparison. Pure data in, data out, except ``chart`` which writes a PNG.
"""
