"""The operators' command-line tool: `station submit|tail|story|stats|report|demo`."""
