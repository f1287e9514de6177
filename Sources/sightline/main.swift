import Sightline
print("placeholder")
