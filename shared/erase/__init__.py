"""Erase: delete what a request names, in an order the API accepts, then prove it by reading back."""
