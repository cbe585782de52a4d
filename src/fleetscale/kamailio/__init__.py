"""Shared pieces of the Kamailio adapters: JSON-RPC client (``rpc``), database settings and
engine (``db``), table definitions (``tables``), the gateway store (``store``), SIP address
parsing (``address``) and the shipped registrar config (``runtime``)."""
