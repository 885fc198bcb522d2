"""Market data in: vendor clients (Finnhub, Alpha Vantage, exchanges), parsers, collectors and the landing writer."""
