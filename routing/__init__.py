"""The statutory rule layer, the route proposal and the deadlines of the 2022 《信访工作条例》."""
