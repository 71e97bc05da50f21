"""The private ground floor: one owner for each small job (atomic files, downloads, progress, names, nesting).

Nothing here imports anything else from cnnkit.
"""
