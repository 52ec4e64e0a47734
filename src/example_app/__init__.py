"""The template's demo domain: users, products and orders, modelled with schemakit."""
