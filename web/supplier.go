package web

// supplierRoutes adds suppliers' and agents' pages, under /supplier.
func (c *Console) supplierRoutes() {}
