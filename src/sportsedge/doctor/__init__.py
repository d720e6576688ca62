"""`sportsedge doctor`: why an int8 model lost accuracy, layer by layer, and the fewest float layers
that win it back."""
