package web

// buyerRoutes adds buyers' pages, under /buyer.
func (c *Console) buyerRoutes() {}
