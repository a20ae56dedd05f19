complete --keep-order --exclusive --command catops --arguments "(COMPLETE=fish catops -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
