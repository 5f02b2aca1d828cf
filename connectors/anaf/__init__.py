"""ANAF (Romania's tax agency): is a company registered, and for VAT, by its tax id (CUI)."""
