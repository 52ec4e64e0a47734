"""``schemakit docs``: the schema's documentation, with an ER diagram, from the models or a migrated database."""
