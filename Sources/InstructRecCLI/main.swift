import T5
print("instructrec")
