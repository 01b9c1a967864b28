package web

// operatorRoutes adds the operator's (and assessors') pages, under /operator.
func (c *Console) operatorRoutes() {}
