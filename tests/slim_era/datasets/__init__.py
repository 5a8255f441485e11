"""The dataset modules of the slim-era programs beside this folder."""
