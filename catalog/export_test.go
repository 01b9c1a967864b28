package catalog

// SetCatchUpPage makes catch-up queries read n entries at a time, so that tests
// cross page boundaries; it returns the function that restores the page size.
func SetCatchUpPage(n int) (restore func()) {
	old := catchUpPage
	catchUpPage = n
	return func() { catchUpPage = old }
}
