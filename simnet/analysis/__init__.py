"""Analysis: result tables, reports, plots, and the tools that read run folders."""
