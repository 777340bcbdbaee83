"""One package per blueprint; routes stay thin and call one service each."""
