/** The page shown at start once a connection exists. Its own module so stores can name it without importing every page. */
export const DEFAULT_ROUTE = "explorer";
/** The page shown at start while no connection exists: its welcome panel offers the ways in. */
export const FIRST_RUN_ROUTE = "connections";
