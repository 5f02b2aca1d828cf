"""1C:Enterprise over its standard OData interface: products and stock pulled, sales orders pushed."""
