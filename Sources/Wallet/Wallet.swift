// The SMS wallet lives here.
