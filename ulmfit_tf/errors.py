"""The error a user's own input causes.

`UserInputError` is what ulmfit-tf raises when an argument, a file or a
folder a user gave cannot be used: the message says what is wrong and how
to fix it. The command line prints it as one line and exits with status 2;
any other exception is a bug in ulmfit-tf and keeps its traceback. It is a
`ValueError`, so Python code that catches `ValueError` keeps working.
"""


class UserInputError(ValueError):
    """An argument, file or folder given by the user cannot be used; the message says why and what to do.

    Example:

    ```python
    from ulmfit_tf.errors import UserInputError

    try:
        ulmfit_tf.load("not/a/model")
    except UserInputError as error:
        print(error)  # one sentence naming the folder and the fix
    ```
    """
