"""Server-rendered pages: the subject portal and the compliance reviewer's dashboard."""
