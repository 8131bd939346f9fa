"""State changes of attachments: upload, linking to messages, the orphan sweep."""
