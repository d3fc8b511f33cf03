-- An email delivery's HTML part, composed when the follow-up is planned (with its subject and
-- plain text, already in `subject` and `body`). Sending uses it as is, so the send step needs
-- neither the messages nor the template again, and the log keeps exactly what was sent.
ALTER TABLE deliveries ADD COLUMN html text;
COMMENT ON COLUMN deliveries.html IS 'email only: the HTML part, as sent';
