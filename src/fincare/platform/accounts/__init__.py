"""Staff accounts (员工账号): departments, roles held, passwords, two-factor, sessions, API tokens.

Passwords are argon2id hashes; TOTP secrets are encrypted with a key derived from the master key.
Five failed logins lock an account for 15 minutes, recorded in the database so the lock holds in
every process. Console sessions and API tokens are random secrets stored only as SHA-256 digests.
Admins, security and compliance officers and auditors must use two-factor authentication.
"""
