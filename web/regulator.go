package web

// regulatorRoutes adds the regulator's pages, under /regulator.
func (c *Console) regulatorRoutes() {}
