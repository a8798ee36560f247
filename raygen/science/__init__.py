"""The science, as plain functions over numpy / Arrow / ASE objects (no Ray):
structures, training data (deepmd/npy), the frame and deviation tables, the ensemble
model deviation and model_devi.out, DeePMD-kit's training input. Selection rules live
beside this in :mod:`raygen.selection`."""
