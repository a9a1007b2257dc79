"""Identity and access: who is calling (principals from certificates or tokens), what each role
may call (the policy matrix), and which batches a partner may see (scopes). docs/security.md."""
