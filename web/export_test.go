package web

import "net/http"

// PagePatterns lists the patterns of the console's pages, for the tests that
// check each page is opened.
func (c *Console) PagePatterns() []string { return append([]string(nil), c.pages...) }

// PatternOf returns the pattern of the page that serves a request ("" when none does).
func (c *Console) PatternOf(r *http.Request) string {
	_, pattern := c.mux.Handler(r)
	return pattern
}
