/** The page shown at start. Its own module so stores can name it without importing every page. */
export const DEFAULT_ROUTE = "connections";
