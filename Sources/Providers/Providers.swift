// The provider adapters (push, messenger, SMS, email, payments) live here.
